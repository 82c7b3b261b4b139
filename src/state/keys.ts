// The key layout of the state store, in one place. Every id that comes from a client or a login
// (user, device id, collection id, record name) is escaped with encodeURIComponent, whose output
// never contains "/", so a crafted id ("a/d/b", "../x", "a:b") cannot name another user's or
// device's keys: each escaped id is exactly one path segment.
//
//   users                                   index: users that have devices
//   u/<user>/devices                        index: device ids of one user
//   u/<user>/d/<device>/device              the DeviceRecord
//   u/<user>/d/<device>/hierarchy           FolderSync state (replayable)
//   u/<user>/d/<device>/collections         index: collection ids with a sync state
//   u/<user>/d/<device>/c/<collection>      Sync state of one collection (replayable)
//   u/<user>/d/<device>/data                index: names of the engine's other records
//   u/<user>/d/<device>/x/<name>            one of those records (folder id map, last Sync, …)
//   g/<name>                                a deployment-wide record (admin switches: trace)
//   lock/<part>/<part>…                     lock names (never data)
//   index/<one of the index keys above>     the index as a set (a SQLite table, a Redis set); the
//                                           index keys themselves held arrays before (layout 1)
//   layout                                  the layout's version (2: indexes are sets)

export class StateKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateKeyError';
  }
}

/** Longest id accepted, in UTF-16 units: far above any real user name, DeviceId or ServerId. */
export const maxIdLength = 512;

export function escapeId(kind: string, id: string): string {
  if (typeof id !== 'string' || id === '') throw new StateKeyError(`${kind} must be a non-empty string`);
  if (id.length > maxIdLength) throw new StateKeyError(`${kind} is longer than ${maxIdLength} characters`);
  try {
    return encodeURIComponent(id);
  } catch {
    // A lone surrogate cannot be encoded; no real id has one.
    throw new StateKeyError(`${kind} is not well-formed Unicode`);
  }
}

const userBase = (user: string): string => `u/${escapeId('user', user)}`;
const deviceBase = (user: string, deviceId: string): string =>
  `${userBase(user)}/d/${escapeId('device id', deviceId)}`;

export const stateKeys = {
  users: (): string => 'users',
  userDevices: (user: string): string => `${userBase(user)}/devices`,
  device: (user: string, deviceId: string): string => `${deviceBase(user, deviceId)}/device`,
  hierarchy: (user: string, deviceId: string): string => `${deviceBase(user, deviceId)}/hierarchy`,
  collections: (user: string, deviceId: string): string => `${deviceBase(user, deviceId)}/collections`,
  collection: (user: string, deviceId: string, collectionId: string): string =>
    `${deviceBase(user, deviceId)}/c/${escapeId('collection id', collectionId)}`,
  dataIndex: (user: string, deviceId: string): string => `${deviceBase(user, deviceId)}/data`,
  data: (user: string, deviceId: string, name: string): string =>
    `${deviceBase(user, deviceId)}/x/${escapeId('record name', name)}`,
  global: (name: string): string => `g/${escapeId('record name', name)}`,
  layout: (): string => 'layout',
  index: (indexKey: string): string => `index/${indexKey}`,
  lock: (parts: readonly string[]): string => `lock/${parts.map((p) => escapeId('lock name', p)).join('/')}`,
};
