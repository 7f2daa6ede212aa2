import { DomainError } from '@citybase/platform';

// Errors shared by the identity features. Messages name the request field, never a stored id or
// name: a foreign caller must not learn which resources exist or who owns them.

/** NOT_FOUND for a resource that does not exist or lies outside the caller's tenancy. */
export function notFound(what: 'operator' | 'project' | 'building' | 'merchant', field: string): DomainError {
  return new DomainError('not_found', `${what.toUpperCase()}_NOT_FOUND`, `${field}: no such ${what}`, {
    field,
    rule: `must identify an existing ${what} visible to this client`,
  });
}
