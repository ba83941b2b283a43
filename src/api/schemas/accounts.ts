import { ACCOUNT_STATUSES } from '../../domain/account/account';
import { CommandResult, Id, MinorUnits, minPosition, PositionOf, StringEnum } from './common';
import { Type, type Static } from './typebox';

export const AccountParams = Type.Object({ id: Id('Account id') });

export const OpenAccountBody = Type.Object(
  {
    ownerId: Id('Owner (customer) id'),
    accountId: Type.Optional(
      Id('Choose the id; default derived from Idempotency-Key, else random'),
    ),
    initialDeposit: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
  },
  { additionalProperties: false },
);
export type OpenAccountBody = Static<typeof OpenAccountBody>;

export const AccountOpened = Type.Intersect([
  Type.Object({ accountId: Type.String() }),
  CommandResult,
]);

export const DepositBody = Type.Object({ amount: MinorUnits() }, { additionalProperties: false });

export const DepositResult = Type.Intersect([
  Type.Object({ accountId: Type.String(), balance: Type.Integer(), reference: Type.String() }),
  CommandResult,
]);

export const AccountQuery = Type.Object(
  {
    at: Type.Optional(
      Type.String({
        format: 'date-time',
        description:
          'Time travel: the account as it was at this ISO-8601 instant, rebuilt from its events',
      }),
    ),
    minPosition,
  },
  { additionalProperties: false },
);

export const AccountView = Type.Object({
  accountId: Type.String(),
  ownerId: Type.String(),
  status: StringEnum(ACCOUNT_STATUSES),
  balance: Type.Integer(),
  version: Type.Integer(),
  lastPosition: PositionOf('Position of the last event this view reflects'),
  asOf: Type.Optional(Type.String({ description: 'Set for time-travel reads' })),
});
