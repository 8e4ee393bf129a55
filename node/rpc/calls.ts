/**
 * Deadlines, cancellation and errors for client calls. Every call gets a deadline; an AbortSignal
 * cancels it; grpc-js ServiceErrors become RpcCallError, whose message names the peer and the fix.
 */
import {
  Metadata,
  status,
  type Client,
  type CallOptions,
  type ClientReadableStream,
  type ClientUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import { HelixError } from '../errors.js';

export interface CallScope {
  /** the call's deadline, from now */
  timeoutMs: number;
  /** cancels the call (the server sees CANCELLED) */
  signal?: AbortSignal;
  /** extra metadata; the auth interceptor adds the proof to it */
  metadata?: Metadata;
  /** "host:port", for error messages */
  target?: string;
}

/**
 * Metadata and options with a deadline. ts-proto clients only take options after a metadata
 * argument, so a fresh Metadata is always returned with them.
 */
export function callOptions(
  timeoutMs: number,
  metadata: Metadata = new Metadata(),
): { metadata: Metadata; options: Partial<CallOptions> } {
  return { metadata, options: { deadline: Date.now() + timeoutMs } };
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

type ServerStreamMethod<Req, Res> = (
  request: Req,
  metadata?: Metadata,
  options?: Partial<CallOptions>,
) => ClientReadableStream<Res>;

/** A unary call as a promise: `await unaryCall(client.ping.bind(client), req, { timeoutMs: 2000 })`. */
export function unaryCall<Req, Res>(
  method: UnaryMethod<Req, Res>,
  request: Req,
  scope: CallScope,
): Promise<Res> {
  const { metadata, options } = callOptions(scope.timeoutMs, scope.metadata);
  const name = methodName(method);
  return new Promise<Res>((resolve, reject) => {
    if (scope.signal?.aborted) {
      reject(
        new RpcCallError(
          status.CANCELLED,
          `${name} was cancelled before it started`,
          scope.target,
          name,
        ),
      );
      return;
    }
    const call = method(request, metadata, options, (err, res) => {
      scope.signal?.removeEventListener('abort', onAbort);
      if (err)
        reject(toRpcError(err, { target: scope.target, method: name, timeoutMs: scope.timeoutMs }));
      else resolve(res);
    });
    const onAbort = () => call.cancel();
    scope.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A server-streaming call as an async iterable. Leaving the `for await` loop early, or aborting
 * the signal, cancels the call (for AgentHost.Run that stops the run).
 */
export async function* serverStream<Req, Res>(
  method: ServerStreamMethod<Req, Res>,
  request: Req,
  scope: CallScope,
): AsyncGenerator<Res> {
  const { metadata, options } = callOptions(scope.timeoutMs, scope.metadata);
  const name = methodName(method);
  const call = method(request, metadata, options);
  const onAbort = () => call.cancel();
  if (scope.signal?.aborted) call.cancel();
  scope.signal?.addEventListener('abort', onAbort, { once: true });
  let finished = false;
  try {
    for await (const message of call) yield message as Res;
    finished = true;
  } catch (err) {
    finished = true;
    throw toRpcError(err, { target: scope.target, method: name, timeoutMs: scope.timeoutMs });
  } finally {
    scope.signal?.removeEventListener('abort', onAbort);
    if (!finished) call.cancel();
  }
}

/** How long a call to a peer waits for its connection before it fails fast (see untilConnected). */
export const CONNECT_GRACE_MS = 5000;

/**
 * Give a client's channel up to `withinMs` to connect; resolves when it is ready, when the time
 * is up or when the signal aborts, never rejecting: the call that follows reports the failure
 * with the connection's own last error. Needed because a call on a channel that is not connected
 * fails at once (grpc-js without waitForReady), while a peer is alive in the mesh a moment before
 * its gRPC server listens (its adverts start first) and a channel that failed once waits out a
 * reconnect backoff. `waitForReady` on the call itself would hold a long call (an image build)
 * for its whole deadline when the peer is really gone.
 */
export function untilConnected(
  client: Pick<Client, 'waitForReady'>,
  withinMs: number,
  signal?: AbortSignal,
): Promise<void> {
  if (signal?.aborted || withinMs <= 0) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      signal?.removeEventListener('abort', done);
      resolve();
    };
    signal?.addEventListener('abort', done, { once: true });
    client.waitForReady(Date.now() + withinMs, done);
  });
}

/** A failed gRPC call, with its status code. The CLI exit status follows the code. */
export class RpcCallError extends HelixError {
  override readonly exitCode: number;
  constructor(
    readonly code: status,
    message: string,
    readonly target?: string,
    readonly method?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.exitCode =
      code === status.UNAUTHENTICATED || code === status.PERMISSION_DENIED
        ? 77
        : code === status.INVALID_ARGUMENT
          ? 65
          : 69;
  }
}

export function isServiceError(err: unknown): err is ServiceError {
  return (
    err instanceof Error &&
    typeof (err as Partial<ServiceError>).code === 'number' &&
    'metadata' in err
  );
}

/** A grpc-js error -> RpcCallError with a message that says what to do. Other errors pass through. */
export function toRpcError(
  err: unknown,
  ctx: { target?: string; method?: string; timeoutMs?: number } = {},
): unknown {
  if (err instanceof RpcCallError || !isServiceError(err)) return err;
  const peer = ctx.target ?? 'the peer';
  const what = ctx.method ? `${ctx.method} on ${peer}` : `call to ${peer}`;
  const details = err.details || err.message;
  let message: string;
  switch (err.code) {
    case status.DEADLINE_EXCEEDED:
      message = `${what} did not finish within ${ctx.timeoutMs ?? '?'} ms (deadline exceeded); the peer may be overloaded, asleep or unreachable`;
      break;
    case status.UNAVAILABLE:
      message = `${peer} is unreachable (${details}); check that helix-node runs there and that its address and rpc port are right`;
      break;
    case status.UNAUTHENTICATED:
    case status.PERMISSION_DENIED:
      message = `${peer} refused ${ctx.method ?? 'the call'}: ${details}`;
      break;
    case status.CANCELLED:
      message = `${what} was cancelled`;
      break;
    default:
      message = `${what} failed with ${status[err.code] ?? err.code}: ${details}`;
  }
  return new RpcCallError(err.code, message, ctx.target, ctx.method, { cause: err });
}

function methodName(fn: unknown): string | undefined {
  // A bound method is named "bound ping"; that is enough for messages.
  const n = (fn as { name?: string }).name?.replace(/^bound /, '');
  return n ? n : undefined;
}
