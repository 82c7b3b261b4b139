// Checks shared by the Direct Push e2e tests; the rest lives in push-client.ts (no vitest there,
// the benchmark uses it too).
import { expect } from 'vitest';
import { findAll, findText, type EasReply } from '../support/eas-client.js';
import { validateEasResponse } from '../support/schema.js';

export * from './push-client.js';

export async function pingStatus(
  reply: EasReply,
): Promise<{ status: string | undefined; folders: string[] }> {
  expect(reply.status).toBe(200);
  await validateEasResponse(reply.doc!, 'Ping');
  return {
    status: findText(reply.doc, 'Status'),
    folders: findAll(reply.doc, 'Folder').map((f) => String(f.value)),
  };
}
