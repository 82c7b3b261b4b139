// MS-ASWBXML 2.1.2.1.25 Code Page 24: RightsManagement — tag names and tokens as in the spec table.
import { defineCodePage } from './define.js';

export const rightsManagement = defineCodePage(24, 'RightsManagement', {
  RightsManagementSupport: 0x05,
  RightsManagementTemplates: 0x06,
  RightsManagementTemplate: 0x07,
  RightsManagementLicense: 0x08,
  EditAllowed: 0x09,
  ReplyAllowed: 0x0a,
  ReplyAllAllowed: 0x0b,
  ForwardAllowed: 0x0c,
  ModifyRecipientsAllowed: 0x0d,
  ExtractAllowed: 0x0e,
  PrintAllowed: 0x0f,
  ExportAllowed: 0x10,
  ProgrammaticAccessAllowed: 0x11,
  Owner: 0x12,
  ContentExpiryDate: 0x13,
  TemplateID: 0x14,
  TemplateName: 0x15,
  TemplateDescription: 0x16,
  ContentOwner: 0x17,
  RemoveRightsManagementProtection: 0x18,
});
