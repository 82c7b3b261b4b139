// The SMTP submitter: the sending half of a mail backend (see submitter.ts).
export {
  createSmtpSubmitter,
  type SmtpCredentials,
  type SmtpEnvelopeRules,
  type SmtpSubmitter,
  type SmtpSubmitterOptions,
} from './submitter.js';
export { smtpErrorKind, toBackendError, type SmtpAuthMode, type SmtpErrorLike } from './errors.js';
