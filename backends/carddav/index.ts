// The CardDAV backend: address books as Contacts folders. See docs/backends.md, "CardDAV".
export { CardDavBackend, CardDavHandle, idFor, openCardDavBackend, type CardDavOptions } from './backend.js';
