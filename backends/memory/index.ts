// The memory backend: the reference implementation of the backend contract (docs/backends.md).
export {
  createAccount,
  ensureDemoAccount,
  hashPassword,
  readAccounts,
  verifyPassword,
  type AccountRecord,
  type NewAccount,
} from './accounts.js';
export { MemoryBackend, openMemoryBackend, stripBcc, type MemoryBackendOptions } from './backend.js';
