/**
 * Router errors. Each message names the thing, the value and what to do.
 */
import { HelixError } from '../errors.js';

export type OllamaFailure =
  'unreachable' | 'model-missing' | 'bad-request' | 'busy' | 'timeout' | 'server' | 'protocol';

/** Any failure talking to Ollama; `failure` says which. */
export class OllamaError extends HelixError {
  override readonly exitCode: number = 69;
  constructor(
    readonly failure: OllamaFailure,
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Connection refused, host unreachable, reset before a reply. */
export class OllamaUnreachableError extends OllamaError {
  constructor(url: string, detail: string, options?: ErrorOptions) {
    super(
      'unreachable',
      `Ollama at ${url} is not reachable (${detail}); start it with \`ollama serve\` on that machine or set router.ollama_url in helix.toml`,
      undefined,
      options,
    );
  }
}

/** HTTP 404: the model is not on that server. */
export class OllamaModelMissingError extends OllamaError {
  constructor(
    readonly model: string,
    url: string,
    serverMessage: string,
  ) {
    super(
      'model-missing',
      `model ${model} is not on the Ollama server at ${url} (${serverMessage}); run \`ollama pull ${model}\` there or set router.model in helix.toml`,
      404,
    );
  }
}

/** HTTP 400: Ollama refused the request (bad format schema, `think` on a model without it). */
export class OllamaBadRequestError extends OllamaError {
  override readonly exitCode = 65;
  constructor(url: string, serverMessage: string) {
    super('bad-request', `Ollama at ${url} refused the request (HTTP 400: ${serverMessage})`, 400);
  }
}

/** HTTP 503 (queue full, server overloaded) or 429. */
export class OllamaBusyError extends OllamaError {
  constructor(url: string, status: number, serverMessage: string) {
    super(
      'busy',
      `Ollama at ${url} is busy (HTTP ${status}: ${serverMessage}); try again in a moment, or raise OLLAMA_MAX_QUEUE on that machine`,
      status,
    );
  }
}

/** No answer within router.timeout_ms. */
export class OllamaTimeoutError extends OllamaError {
  constructor(url: string, timeoutMs: number, options?: ErrorOptions) {
    super(
      'timeout',
      `Ollama at ${url} did not answer within ${timeoutMs} ms; check that machine's load, or raise router.timeout_ms in helix.toml`,
      undefined,
      options,
    );
  }
}

/** Any other HTTP error status (500 and friends). */
export class OllamaServerError extends OllamaError {
  constructor(url: string, status: number, serverMessage: string) {
    super(
      'server',
      `Ollama at ${url} failed (HTTP ${status}: ${serverMessage}); see \`journalctl -u ollama\` on that machine`,
      status,
    );
  }
}

/** A reply that is not Ollama's wire format. */
export class OllamaProtocolError extends OllamaError {
  override readonly exitCode = 65;
  constructor(url: string, what: string, options?: ErrorOptions) {
    super(
      'protocol',
      `Ollama at ${url} sent a reply HelixOS cannot read (${what}); check that router.ollama_url points at Ollama`,
      undefined,
      options,
    );
  }
}
