// MS-ASWBXML 2.1.2.1.12 Code Page 11: ValidateCert — tag names and tokens as in the spec table.
// CheckCRL is spelled as in MS-ASCMD 2.2.3.26 (the request XSD writes CheckCrl); only the XML
// rendering sees the difference.
import { defineCodePage } from './define.js';

export const validateCert = defineCodePage(11, 'ValidateCert', {
  ValidateCert: 0x05,
  Certificates: 0x06,
  Certificate: 0x07,
  CertificateChain: 0x08,
  CheckCRL: 0x09,
  Status: 0x0a,
});
