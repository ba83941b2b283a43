import { ACCOUNT_REJECTION_CODES } from '../../src/domain/account';
import { INVENTORY_REJECTION_CODES } from '../../src/domain/inventory';
import { ORDER_REJECTION_CODES } from '../../src/domain/order';
import { SHIPMENT_REJECTION_CODES } from '../../src/domain/shipment';
import { TRANSFER_REJECTION_CODES } from '../../src/domain/transfer';
import { statusForRejection } from '../../src/api/plugins/errors';

const everyCode = [
  ...ACCOUNT_REJECTION_CODES,
  ...INVENTORY_REJECTION_CODES,
  ...ORDER_REJECTION_CODES,
  ...SHIPMENT_REJECTION_CODES,
  ...TRANSFER_REJECTION_CODES,
  'ORDER_ALREADY_PLACED_DIFFERENTLY',
];

/** What clients were answered before the table: guessed from the code's spelling. */
function statusByName(code: string): number {
  if (code.endsWith('_NOT_FOUND')) return 404;
  if (
    code.startsWith('INVALID_') ||
    ['EMPTY_ORDER', 'SAME_ACCOUNT', 'UNKNOWN_COMMAND'].includes(code)
  )
    return 400;
  return 409;
}

describe('rejection statuses', () => {
  it.each([...new Set(everyCode)])('%s keeps the status clients were answered', (code) => {
    expect(statusForRejection(code)).toBe(statusByName(code));
  });

  it('answers a code outside the table as a conflict, and ignores the prototype', () => {
    expect(statusForRejection('SOMETHING_NEW')).toBe(409);
    expect(statusForRejection('toString')).toBe(409);
  });
});
