// Prometheus metrics (text exposition format, served by src/metrics/server.ts on its own
// listener). One registry per easd instance, so tests and several servers in one process never
// share counters. What is counted: EAS commands by name and Status, HTTP statuses, held requests
// (Ping, Sync with Wait), backend call latency per contract method, and push wake latency (the
// first hint of a change → the held request it woke lets go).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What server.ts reports once a request is answered. */
export interface RequestObservation {
  /** EAS command name, "Autodiscover", "OPTIONS", "webhook", or "-" before the command is known. */
  command: string;
  httpStatus: number;
  /** The response's top-level EAS Status, when it has one. */
  easStatus?: string;
  seconds: number;
}

export interface MetricsOptions {
  /** Node's process metrics (CPU, memory, event loop lag) too; off in tests. */
  processMetrics?: boolean;
}

export class EasdMetrics {
  readonly registry = new Registry();
  private readonly commands: Counter<'command' | 'status'>;
  private readonly http: Counter<'code'>;
  private readonly duration: Histogram<'command'>;
  private readonly held: Gauge<'command'>;
  private readonly backend: Histogram<'capability' | 'outcome'>;
  private readonly wake: Histogram;

  constructor(opts: MetricsOptions = {}) {
    const registers = [this.registry];
    this.commands = new Counter({
      name: 'easd_commands_total',
      help: 'EAS commands answered, by command and top-level EAS Status ("none" when the response has none, "http" when answered with an HTTP error)',
      labelNames: ['command', 'status'],
      registers,
    });
    this.http = new Counter({
      name: 'easd_http_responses_total',
      help: 'HTTP responses by status code',
      labelNames: ['code'],
      registers,
    });
    this.duration = new Histogram({
      name: 'easd_request_duration_seconds',
      help: 'Time from request to response by command (held Ping/Sync included: read the held gauge with it)',
      labelNames: ['command'],
      buckets: [0.005, 0.025, 0.1, 0.25, 1, 2.5, 10, 60, 300, 900, 1800, 3600],
      registers,
    });
    this.held = new Gauge({
      name: 'easd_held_requests',
      help: 'Requests held open now waiting for a change (Ping, Sync with Wait/HeartbeatInterval)',
      labelNames: ['command'],
      registers,
    });
    this.backend = new Histogram({
      name: 'easd_backend_call_duration_seconds',
      help: 'Backend calls by contract method (capability) and outcome (ok or the backend error kind)',
      labelNames: ['capability', 'outcome'],
      buckets: [0.001, 0.005, 0.025, 0.1, 0.25, 1, 2.5, 10, 30],
      registers,
    });
    this.wake = new Histogram({
      name: 'easd_push_wake_seconds',
      help: 'Push latency: first hint of a change (store watch, bus, webhook) to the held request it woke letting go',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    for (const command of ['Ping', 'Sync']) this.held.set({ command }, 0);
    if (opts.processMetrics === true) collectDefaultMetrics({ register: this.registry, prefix: 'easd_' });
  }

  request(o: RequestObservation): void {
    this.http.inc({ code: String(o.httpStatus) });
    if (o.command === '-') return;
    const status = o.easStatus ?? (o.httpStatus >= 400 || o.httpStatus === 449 ? 'http' : 'none');
    this.commands.inc({ command: o.command, status });
    this.duration.observe({ command: o.command }, o.seconds);
  }

  holdStarted(command: string): void {
    this.held.inc({ command });
  }

  holdEnded(command: string): void {
    this.held.dec({ command });
  }

  backendCall(capability: string, outcome: string, seconds: number): void {
    this.backend.observe({ capability, outcome }, seconds);
  }

  woke(seconds: number): void {
    this.wake.observe(seconds);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
