import { exportBlocked, findPii, idNumberChecks, needsReview } from './catalog.domain';

describe('PII scan', () => {
  it('checks ID numbers with the ISO 7064 MOD 11-2 check digit', () => {
    expect(idNumberChecks('11010519491231002X')).toBe(true);
    expect(idNumberChecks('110105194912310021')).toBe(false);
    expect(idNumberChecks('440308199901010012')).toBe(true);
    expect(idNumberChecks('440308199901010011')).toBe(false);
  });

  it('finds mobile numbers, valid ID numbers and plates in free text, and nothing in ordinary text', () => {
    expect(findPii('call me at 13812345678 tomorrow')).toEqual(['mobile']);
    expect(findPii('tel +86 13812345678')).toEqual(['mobile']);
    expect(findPii('order 213812345678901')).toEqual([]); // a mobile number inside a longer number is not one
    expect(findPii('id 11010519491231002X ok')).toEqual(['id_number']);
    expect(findPii('id 110105194912310021 bad check digit')).toEqual([]);
    expect(findPii('car 粤B·12345 parked')).toEqual(['plate']);
    expect(findPii('ev 京AD12345 charging')).toEqual(['plate']);
    expect(findPii('room 1203, invoice 2026-0001')).toEqual([]);
    expect(findPii('13912345678 and 粤B12345')).toEqual(['mobile', 'plate']);
  });

  it('blocks unclassified fields and fields under review; findings in a personal field need no review', () => {
    expect(exportBlocked({ classification: 'UNSPECIFIED', pii_review: false })).toBe(true);
    expect(exportBlocked({ classification: 'PUBLIC', pii_review: true })).toBe(true);
    expect(exportBlocked({ classification: 'PUBLIC', pii_review: false })).toBe(false);
    expect(needsReview('PUBLIC', [{ kind: 'mobile' }])).toBe(true);
    expect(needsReview('PERSONAL', [{ kind: 'mobile' }])).toBe(false);
    expect(needsReview('PUBLIC', [])).toBe(false);
  });
});
