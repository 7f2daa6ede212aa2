/** A definite answer of the provider other than 200: HTTP status and the `code` of the JSON body. */
export class ProviderError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

/** Malformed input: 400 PARAM_ERROR with "<field>: <rule>". */
export function paramError(field: string, rule: string): ProviderError {
  return new ProviderError(400, 'PARAM_ERROR', `${field}: ${rule}`);
}
