/**
 * Which fields of which events are personal data, and whose. Only these are encrypted;
 * everything a process needs to decide (ids, amounts, the destination country) stays clear.
 */
export interface PersonalDataRule {
  /** The data subject the fields belong to, e.g. `customer-c-9`. */
  subject(data: Record<string, unknown>): string | undefined;
  /** Dotted paths inside the event's data. */
  fields: readonly string[];
}

export type PersonalDataPolicy = Readonly<Record<string, PersonalDataRule>>;

export const customerSubject = (customerId: string) => `customer-${customerId}`;

export const DEFAULT_PERSONAL_DATA_POLICY: PersonalDataPolicy = {
  OrderPlaced: {
    subject: (data) =>
      typeof data.customerId === 'string' ? customerSubject(data.customerId) : undefined,
    fields: [
      'shippingAddress.name',
      'shippingAddress.line1',
      'shippingAddress.city',
      'shippingAddress.postalCode',
    ],
  },
};

/** What an erased field reads as. */
export const ERASED = '[erased]';
