// The two documents the WBXML benchmark measures (issue 3): a ~10 KB Sync response carrying 50
// Email Adds, and a ~1 MB ItemOperations response fetching a message body and an attachment.
// Deterministic, so every run and the libwbxml C program see the same bytes.

import { el, type WbxmlElement } from '../wbxml/tree.js';

const subjects = ['Quarterly numbers', 'Lunch on Friday?', 'Re: build is red', 'Café order — 2×'];

function emailAdd(i: number): WbxmlElement {
  const day = String((i % 28) + 1).padStart(2, '0');
  return el('AirSync', 'Add', [
    el('AirSync', 'ServerId', `5:${i + 1}`),
    el('AirSync', 'ApplicationData', [
      el('Email', 'To', '"Ann" <ann@example.com>'),
      el('Email', 'From', '"Bob" <bob@example.org>'),
      el('Email', 'Subject', subjects[i % subjects.length]!),
      el('Email', 'DateReceived', `2024-03-${day}T09:15:00.000Z`),
      el('Email', 'Importance', 1),
      el('Email', 'Read', i % 3 === 0 ? 1 : 0),
      el('AirSyncBase', 'Body', [
        el('AirSyncBase', 'Type', 2),
        el('AirSyncBase', 'EstimatedDataSize', 2048 + i),
        el('AirSyncBase', 'Truncated', 1),
      ]),
      el('Email', 'MessageClass', 'IPM.Note'),
      el('AirSyncBase', 'NativeBodyType', 2),
      el(
        'Email2',
        'ConversationId',
        Uint8Array.from({ length: 16 }, (_, k) => (i * 7 + k) & 0xff),
      ),
    ]),
  ]);
}

/** Sync response: one Email collection with 50 Adds (~10 KB of WBXML). */
export function syncResponse50(): WbxmlElement {
  const adds: WbxmlElement[] = [];
  for (let i = 0; i < 50; i++) adds.push(emailAdd(i));
  return el('AirSync', 'Sync', [
    el('AirSync', 'Collections', [
      el('AirSync', 'Collection', [
        el('AirSync', 'SyncKey', '{8f2c6d0e-2a41-4a4b-9d1e-6b0f3f1d2c11}3'),
        el('AirSync', 'CollectionId', '5'),
        el('AirSync', 'Status', 1),
        el('AirSync', 'Commands', adds),
        el('AirSync', 'MoreAvailable'),
      ]),
    ]),
  ]);
}

function pseudoRandomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function base64Lines(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/.{76}/g, '$&\r\n');
}

/** ItemOperations response: a MIME message (~300 KB text) and an attachment (~700 KB base64). */
export function itemOperations1MB(): WbxmlElement {
  const mime =
    'From: bob@example.org\r\nTo: ann@example.com\r\nSubject: Report\r\nMIME-Version: 1.0\r\n' +
    'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: application/pdf\r\n' +
    'Content-Transfer-Encoding: base64\r\n\r\n' +
    base64Lines(pseudoRandomBytes(220 * 1024, 7)) +
    '\r\n--b1--\r\n';
  return el('ItemOperations', 'ItemOperations', [
    el('ItemOperations', 'Status', 1),
    el('ItemOperations', 'Response', [
      el('ItemOperations', 'Fetch', [
        el('ItemOperations', 'Status', 1),
        el('AirSync', 'CollectionId', '5'),
        el('AirSync', 'ServerId', '5:17'),
        el('AirSync', 'Class', 'Email'),
        el('ItemOperations', 'Properties', [
          el('AirSyncBase', 'Body', [
            el('AirSyncBase', 'Type', 4),
            el('AirSyncBase', 'EstimatedDataSize', mime.length),
            el('AirSyncBase', 'Data', mime),
          ]),
        ]),
      ]),
      el('ItemOperations', 'Fetch', [
        el('ItemOperations', 'Status', 1),
        el('AirSyncBase', 'FileReference', '5%3a17%3a0'),
        el('ItemOperations', 'Properties', [
          el('AirSyncBase', 'ContentType', 'image/jpeg'),
          el('ItemOperations', 'Total', 520 * 1024),
          el('ItemOperations', 'Data', base64Lines(pseudoRandomBytes(520 * 1024, 11)).replace(/\r\n/g, '')),
        ]),
      ]),
    ]),
  ]);
}
