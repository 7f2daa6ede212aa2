const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = '10X98765432';

/**
 * A well-formed 18-character mainland resident ID number (GB 11643) for test data: region code
 * (6 digits), birth date (YYYYMMDD), sequence (3 digits) and the computed check digit.
 */
export function validIdNumber(region: string, birth: string, sequence: string): string {
  const body = `${region}${birth}${sequence}`;
  if (!/^\d{17}$/.test(body)) throw new Error('validIdNumber: region 6 digits, birth 8, sequence 3');
  const sum = WEIGHTS.reduce((acc, w, i) => acc + w * Number(body[i]), 0);
  return body + CHECK[sum % 11];
}
