// A TCP proxy in front of an IMAP server, for tests and benchmarks: it counts the commands a client
// sends (by name: "UID FETCH", "NOOP" …), can hide capabilities from the server's answers (an older
// or plainer server) and can cut every connection at once (a server restart, a NAT timeout).
import net from 'node:net';
import { HOST } from './process.js';

export class ImapProxy {
  /** Commands sent since the last take(), by name. */
  readonly counts = new Map<string, number>();
  /** Every command sent, by name, in order. */
  readonly commands: string[] = [];
  /** Bytes the server sent since the last take(). */
  bytesFromServer = 0;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly target: { host: string; port: number },
    opts: { hide?: readonly string[] } = {},
  ) {
    const hide = opts.hide ?? [];
    const hidden = hide.length === 0 ? undefined : new RegExp(` (?:${hide.join('|')})(?=[ \\]\\r])`, 'g');
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      this.sockets.add(client).add(upstream);
      let fromClient = '';
      let fromServer = '';
      client.on('data', (chunk: Buffer) => {
        // a literal's bytes may look like a command line now and then; tests send none while counting
        fromClient += chunk.toString('latin1');
        const lines = fromClient.split('\r\n');
        fromClient = lines.pop() ?? '';
        for (const line of lines) {
          const name = /^[A-Za-z0-9.]+ ((?:UID )?[A-Z]+)/.exec(line)?.[1];
          if (name === undefined) continue;
          this.commands.push(name);
          this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
        }
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        this.bytesFromServer += chunk.byteLength;
        if (hidden === undefined) return void client.write(chunk);
        // whole lines only, so a capability name is never split between two chunks
        fromServer += chunk.toString('latin1');
        const end = fromServer.lastIndexOf('\r\n') + 2;
        if (end < 2) return;
        client.write(Buffer.from(fromServer.slice(0, end).replace(hidden, ''), 'latin1'));
        fromServer = fromServer.slice(end);
      });
      const end = (): void => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
  }

  /** Starts listening on a free port of 127.0.0.1; returns the port. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, HOST, resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Commands and server bytes since the last call. */
  take(): { commands: Map<string, number>; bytes: number } {
    const out = { commands: new Map(this.counts), bytes: this.bytesFromServer };
    this.counts.clear();
    this.bytesFromServer = 0;
    return out;
  }

  dropAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
