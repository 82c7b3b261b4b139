// MS-ASWBXML 2.1.2.1.4 Code Page 3: AirNotify — tag names and tokens as in the spec table.
// The spec keeps code page 3 reserved for AirNotify but defines no tags in it any more, so every
// token on this page decodes as unknown.
import { defineCodePage } from './define.js';

export const airNotify = defineCodePage(3, 'AirNotify', {});
