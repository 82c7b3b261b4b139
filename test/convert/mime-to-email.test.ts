import { describe, expect, it } from 'vitest';
import { emailToMime } from '../../src/convert/mime-from-email.js';
import {
  attachmentAt,
  htmlToPlain,
  mimeToEmail,
  parseMime,
  recipientsOf,
  threadTopic,
} from '../../src/convert/mime-to-email.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s.replace(/\n/g, '\r\n'));
const ref = (i: number): string => `ref-${i}`;
const plainOnly = { bodyPreferences: [{ Type: 1 as const }], fileReference: ref };

const simple = enc(`From: "Alice Liddell" <alice@example.com>
To: Bob <bob@example.com>, carol@example.com
Cc: "Dave, Jr." <dave@example.com>
Reply-To: replies@example.com
Subject: Re: Fwd: Lunch
Date: Tue, 04 Mar 2025 10:15:00 +0000
Message-ID: <m1@example.com>
References: <root@example.com> <m0@example.com>
X-Priority: 1
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Caf=E9 at noon?
`);

const multipart = enc(`From: alice@example.com
To: bob@example.com
Subject: Report
Date: Wed, 05 Mar 2025 08:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8

<p>See the <b>chart</b> &amp; the file.</p><img src="cid:chart@x">
--rel
Content-Type: image/png
Content-ID: <chart@x>
Content-Disposition: inline; filename="chart.png"
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--rel--
--outer
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--outer--
`);

describe('mimeToEmail', () => {
  it('maps the headers to MS-ASEMAIL properties', async () => {
    const e = await mimeToEmail(simple, plainOnly);
    expect(e.From).toBe('"Alice Liddell" <alice@example.com>');
    expect(e.To).toBe('"Bob" <bob@example.com>, carol@example.com');
    expect(e.Cc).toBe('"Dave, Jr." <dave@example.com>');
    expect(e.ReplyTo).toBe('replies@example.com');
    expect(e.DisplayTo).toBe('Bob; carol@example.com');
    expect(e.Subject).toBe('Re: Fwd: Lunch');
    expect(e.ThreadTopic).toBe('Lunch');
    expect(e.DateReceived?.toISOString()).toBe('2025-03-04T10:15:00.000Z');
    expect(e.Importance).toBe(2);
    expect(e.MessageClass).toBe('IPM.Note');
    expect(e.ContentClass).toBe('urn:content-classes:message');
    expect(e.InternetCPID).toBe('65001');
    expect(e.NativeBodyType).toBe(1);
    expect(e.MessageId).toBe('<m1@example.com>');
    expect(e.Attachments).toBeUndefined();
  });

  it('decodes the body charset and shapes it per preference', async () => {
    const e = await mimeToEmail(simple, plainOnly);
    expect(e.Body).toMatchObject({ Type: 1, Data: 'Café at noon?\n' });
    const cut = await mimeToEmail(simple, {
      ...plainOnly,
      bodyPreferences: [{ Type: 1, TruncationSize: 4, Preview: 4 }],
    });
    expect(cut.Body).toMatchObject({ Type: 1, Data: 'Caf', Truncated: true, Preview: 'Café' });
  });

  it('reads windows-1252 (and the latin1 labels the Encoding Standard maps to it) with its 0x80–0x9F characters', async () => {
    for (const charset of ['windows-1252', 'iso-8859-1', 'us-ascii']) {
      const raw = Buffer.concat([
        Buffer.from(
          `Subject: =?${charset}?Q?=93Caf=E9=94?=\r\nFrom: =?${charset}?Q?Ren=E9_=96_Sales?= <r@example.com>\r\nContent-Type: text/plain; charset=${charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n`,
        ),
        Buffer.from([0x80, 0x35, 0x20, 0x85, 0x20, 0xe9]),
      ]);
      const e = await mimeToEmail(new Uint8Array(raw), plainOnly);
      expect([e.Subject, e.From, e.Body?.Data?.toString().trimEnd()], charset).toEqual([
        '“Café”',
        '"René – Sales" <r@example.com>',
        '€5 … é',
      ]);
    }
  });

  it('gives the raw message for a MIME preference when MIMESupport allows', async () => {
    const e = await mimeToEmail(simple, {
      bodyPreferences: [{ Type: 4 }],
      MIMESupport: 2,
      fileReference: ref,
    });
    expect(e.Body?.Type).toBe(4);
    expect(e.Body?.Data).toEqual(simple);
    expect(e.Body?.EstimatedDataSize).toBe(simple.byteLength);
  });

  it('uses HTML as the native body, derives plain text from it, and lists attachments', async () => {
    const e = await mimeToEmail(multipart, { bodyPreferences: [{ Type: 2 }], fileReference: ref });
    expect(e.NativeBodyType).toBe(2);
    expect(e.Body?.Type).toBe(2);
    expect(String(e.Body?.Data)).toContain('<b>chart</b>');
    const plain = await mimeToEmail(multipart, plainOnly);
    expect(plain.Body?.Data).toBe('See the chart & the file.');
    expect(e.Attachments).toEqual([
      {
        DisplayName: 'chart.png',
        FileReference: 'ref-0',
        Method: 1,
        EstimatedDataSize: 8,
        ContentId: 'chart@x',
        IsInline: true,
        ContentType: 'image/png',
      },
      {
        DisplayName: 'report.pdf',
        FileReference: 'ref-1',
        Method: 1,
        EstimatedDataSize: 9,
        ContentType: 'application/pdf',
      },
    ]);
  });

  it('gives an attachment by index with its bytes', async () => {
    const parsed = await parseMime(multipart);
    const a = attachmentAt(parsed, 1);
    expect(a?.contentType).toBe('application/pdf');
    expect(new TextDecoder().decode(a?.content)).toBe('%PDF-1.4\n');
    expect(attachmentAt(parsed, 5)).toBeUndefined();
  });

  it('gives messages of one thread the same ConversationId', async () => {
    const reply = enc(
      `From: bob@example.com\nTo: alice@example.com\nSubject: Re: Lunch\nMessage-ID: <m2@example.com>\nReferences: <root@example.com> <m1@example.com>\n\nYes\n`,
    );
    const other = enc(
      `From: bob@example.com\nTo: alice@example.com\nSubject: Other\nMessage-ID: <x@example.com>\n\nNo\n`,
    );
    const [a, b, c] = await Promise.all([simple, reply, other].map((m) => mimeToEmail(m, plainOnly)));
    expect(a?.ConversationId).toHaveLength(16);
    expect(a?.ConversationId).toEqual(b?.ConversationId);
    expect(a?.ConversationId).not.toEqual(c?.ConversationId);
  });

  it.each([
    ['Importance: low', 0],
    ['Importance: High', 2],
    ['X-Priority: 5 (Lowest)', 0],
    ['Priority: urgent', 2],
    ['X-Other: 1', 1],
  ])('Importance from "%s" is %i', async (line, value) => {
    const e = await mimeToEmail(enc(`From: a@x\nSubject: s\n${line}\n\nbody\n`), plainOnly);
    expect(e.Importance).toBe(value);
  });

  it('classes S/MIME and meeting messages', async () => {
    const signed = enc(
      `From: a@x\nSubject: s\nContent-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="b"\n\n--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: application/pkcs7-signature; name=smime.p7s\nContent-Transfer-Encoding: base64\n\nAAAA\n--b--\n`,
    );
    const s = await mimeToEmail(signed, {
      bodyPreferences: [{ Type: 4 }],
      MIMESupport: 1,
      fileReference: ref,
    });
    expect(s.MessageClass).toBe('IPM.Note.SMIME.MultipartSigned');
    expect(s.Body?.Type).toBe(4); // MIMESupport 1 sends MIME for S/MIME messages
    const invite = enc(
      `From: a@x\nSubject: Meet\nContent-Type: multipart/alternative; boundary="b"\n\n--b\nContent-Type: text/plain\n\nCome\n--b\nContent-Type: text/calendar; method=REQUEST; charset=utf-8\n\nBEGIN:VCALENDAR\nMETHOD:REQUEST\nEND:VCALENDAR\n--b--\n`,
    );
    const m = await mimeToEmail(invite, plainOnly);
    expect(m.MessageClass).toBe('IPM.Schedule.Meeting.Request');
    expect(m.ContentClass).toBe('urn:content-classes:calendarmessage');
    expect(m.Attachments).toBeUndefined();
  });

  it('survives a message with no headers and no body', async () => {
    const e = await mimeToEmail(enc('\n'), plainOnly);
    expect(e.Subject).toBe('');
    expect(e.DisplayTo).toBe('');
    expect(e.From).toBeUndefined();
  });

  it('reads a message postal-mime refuses (nesting too deep) as an item without headers', async () => {
    const depth = 300;
    let body = 'deep';
    for (let i = depth; i > 0; i--)
      body = `Content-Type: multipart/mixed; boundary="b${i}"\n\n--b${i}\n${body}\n--b${i}--`;
    const raw = enc(`Subject: deep\n${body}\n`);
    const e = await mimeToEmail(raw, { bodyPreferences: [{ Type: 4 }], MIMESupport: 2, fileReference: ref });
    expect(e.Subject).toBe('');
    expect(e.Body?.Data).toEqual(raw);
  });

  it('lists every recipient once, for delivery', async () => {
    const parsed = await parseMime(
      enc(
        `From: a@x\nTo: B <B@Example.com>, team: c@x.org, d@x.org;\nCc: b@example.com\nBcc: e@x.org\n\nhi\n`,
      ),
    );
    expect(recipientsOf(parsed)).toEqual(['b@example.com', 'c@x.org', 'd@x.org', 'e@x.org']);
  });
});

describe('helpers', () => {
  it.each([
    ['Re: Fwd: Lunch', 'Lunch'],
    ['RE:RE: x', 'x'],
    ['AW: WG: Termin', 'Termin'],
    ['Re[2]: y', 'y'],
    ['Regarding the plan', 'Regarding the plan'],
  ])('threadTopic(%s) = %s', (subject, topic) => {
    expect(threadTopic(subject)).toBe(topic);
  });

  it('htmlToPlain drops tags, scripts and styles, decodes entities', () => {
    expect(
      htmlToPlain('<style>p{}</style><p>a&lt;b&#33; &eacute;</p><br><div>c</div><script>x()</script>'),
    ).toBe('a<b! &eacute;\n\nc');
  });
});

describe('emailToMime', () => {
  it('round-trips a draft through mimeToEmail', async () => {
    const mime = await emailToMime(
      {
        To: '"Bob" <bob@example.com>',
        Cc: 'carol@example.com',
        Bcc: 'dave@example.com',
        Subject: 'Draft ✓',
        Importance: 2,
        Body: { Type: 2, EstimatedDataSize: 0, Data: '<p>Hi Bob</p>' },
        AttachmentsAdd: [
          {
            ClientId: 'c1',
            DisplayName: 'a.txt',
            Method: 1,
            Content: new TextEncoder().encode('hello'),
            ContentType: 'text/plain',
          },
        ],
      },
      { defaultFrom: 'alice@example.com' },
    );
    const e = await mimeToEmail(mime, { bodyPreferences: [{ Type: 2 }], fileReference: ref });
    expect(e.From).toBe('alice@example.com');
    expect(e.To).toBe('"Bob" <bob@example.com>');
    expect(e.Cc).toBe('carol@example.com');
    expect(e.Bcc).toBe('dave@example.com');
    expect(e.Subject).toBe('Draft ✓');
    expect(e.Importance).toBe(2);
    expect(String(e.Body?.Data)).toContain('<p>Hi Bob</p>');
    expect(e.Attachments?.map((a) => [a.DisplayName, a.EstimatedDataSize])).toEqual([['a.txt', 5]]);
  });

  it('stores a Type 4 body as the message itself', async () => {
    const raw = enc('Subject: as is\n\nbody\n');
    expect(await emailToMime({ Body: { Type: 4, EstimatedDataSize: raw.byteLength, Data: raw } })).toBe(raw);
  });
});
