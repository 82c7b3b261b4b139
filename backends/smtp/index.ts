// The SMTP submitter: the sending half of a mail backend (see submitter.ts).
export {
  createSmtpSubmitter,
  type RefusedRecipient,
  type SmtpCredentials,
  type SmtpEnvelopeRules,
  type SmtpSubmitter,
  type SmtpSubmitterOptions,
  type SubmitResult,
} from './submitter.js';
export { smtpErrorKind, toBackendError, type SmtpAuthMode, type SmtpErrorLike } from './errors.js';
