/**
 * Helpers shared by settlement's tests (unit specs under src/ and integration suites): the
 * platform's test helpers, under the names settlement's specs use.
 */
export { domainErrorOf, seededRandom as rng } from '@citybase/platform/testing';
