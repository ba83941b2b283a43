/** An HTTP error the API answers as application/problem+json (RFC 9457). */
export class HttpProblem extends Error {
  override readonly name = 'HttpProblem';

  constructor(
    readonly status: number,
    readonly title: string,
    detail?: string,
    readonly extra: {
      code?: string;
      errors?: Array<{ field: string; in?: string; message: string }>;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(detail ?? title);
  }
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** `problems/<slug>` type URIs, relative to the API (they are documented in the README). */
export function problemType(slug: string): string {
  return `/problems/${slug.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
}

export const notFound = (what: string, id: string) =>
  new HttpProblem(404, 'Not Found', `${what} ${id} does not exist`, { code: 'NOT_FOUND' });
