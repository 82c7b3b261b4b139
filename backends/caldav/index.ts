// The CalDAV backend: calendar collections as Calendar and Tasks folders. See docs/backends.md, "CalDAV".
export { CalDavBackend, CalDavHandle, openCalDavBackend, type CalDavOptions } from './backend.js';
export { idFor } from '../dav/webdav.js';
