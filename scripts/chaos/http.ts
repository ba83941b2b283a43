import { sleep } from './util';

export interface HttpStats {
  requests: number;
  retries: number;
  serverErrors: number;
  networkErrors: number;
  replayed: number;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The API as a client sees it: JSON over HTTP, retrying (with the same Idempotency-Key)
 * on connection errors and 5xx, as a well-behaved client does when the system is in trouble.
 */
export class ApiClient {
  readonly stats: HttpStats = {
    requests: 0,
    retries: 0,
    serverErrors: 0,
    networkErrors: 0,
    replayed: 0,
  };

  constructor(
    readonly baseUrl: string,
    private readonly maxAttempts = 25,
  ) {}

  async request<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: T; replayed: boolean }> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      if (attempt > 1) {
        this.stats.retries += 1;
        await sleep(Math.min(200 * 2 ** (attempt - 2), 3_000));
      }
      this.stats.requests += 1;
      let response: Response;
      try {
        response = await fetch(`${this.baseUrl}${path}`, {
          method,
          headers: {
            ...(body !== undefined && { 'content-type': 'application/json' }),
            ...headers,
          },
          ...(body !== undefined && { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (error) {
        this.stats.networkErrors += 1;
        lastError = error;
        continue;
      }
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON
      }
      if (response.status >= 500) {
        this.stats.serverErrors += 1;
        lastError = new HttpError(
          response.status,
          parsed,
          `${method} ${path}: ${response.status} ${text.slice(0, 300)}`,
        );
        continue;
      }
      if (response.status >= 400) {
        throw new HttpError(
          response.status,
          parsed,
          `${method} ${path}: ${response.status} ${text.slice(0, 300)}`,
        );
      }
      const replayed = response.headers.get('idempotent-replayed') === 'true';
      if (replayed) this.stats.replayed += 1;
      return { status: response.status, body: parsed as T, replayed };
    }
    throw lastError instanceof Error ? lastError : new Error(`${method} ${path} failed`);
  }

  post<T>(path: string, body: unknown, idempotencyKey?: string) {
    return this.request<T>(
      'POST',
      path,
      body,
      idempotencyKey ? { 'idempotency-key': idempotencyKey } : {},
    );
  }

  get<T>(path: string) {
    return this.request<T>('GET', path);
  }
}
