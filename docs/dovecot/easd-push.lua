-- Dovecot 2.3 push_notification Lua driver for easd's push webhook (docs/push.md): every new,
-- appended or expunged message and every flag change is PUT to easd as
-- {"user": …, "event": …, "folder": …}, so APPEND by another client, flag changes and expunges
-- wake held Pings too (the OX driver reports deliveries to INBOX only).
--
-- dovecot.conf:
--   mail_plugins = $mail_plugins mail_lua notify push_notification push_notification_lua
--   plugin {
--     push_notification_driver = lua:file=/etc/dovecot/easd-push.lua
--     easd_push_url = http://easd-host:8080/easd/push
--     easd_push_secret = <EASD_WEBHOOK_SECRET>
--   }
local client

function script_init()
  client = dovecot.http.client({ timeout = 2000, max_attempts = 1 })
  return 0
end

-- JSON string contents: quotes, backslashes and control characters escaped
local function esc(s)
  return (tostring(s or ""):gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end))
end

function dovecot_lua_notify_begin_txn(user)
  return {
    user = user.username,
    url = user:plugin_getenv("easd_push_url"),
    secret = user:plugin_getenv("easd_push_secret"),
    events = {},
  }
end

local function add(ctx, name, event)
  -- one request per mailbox and kind of event is enough: easd looks at the folder itself
  local body = '{"user":"' .. esc(ctx.user) .. '","event":"' .. name .. '","folder":"' .. esc(event.mailbox) .. '"}'
  ctx.events[body] = true
end

function dovecot_lua_notify_event_message_new(ctx, event) add(ctx, "messageNew", event) end
function dovecot_lua_notify_event_message_append(ctx, event) add(ctx, "messageAppend", event) end
function dovecot_lua_notify_event_message_expunge(ctx, event) add(ctx, "messageExpunge", event) end
function dovecot_lua_notify_event_flags_set(ctx, event) add(ctx, "flagsSet", event) end
function dovecot_lua_notify_event_flags_clear(ctx, event) add(ctx, "flagsClear", event) end

function dovecot_lua_notify_end_txn(ctx)
  if ctx.url == nil or ctx.url == "" then return end
  for body in pairs(ctx.events) do
    local req = client:request({ url = ctx.url, method = "PUT" })
    req:add_header("content-type", "application/json")
    if ctx.secret ~= nil and ctx.secret ~= "" then
      req:add_header("authorization", "Bearer " .. ctx.secret)
    end
    req:set_payload(body)
    req:submit()
  end
end
