import {
  DefaultPayloadConverter,
  type ConverterHint,
  type Payload,
  type PayloadConverter,
  type SerializationContext,
} from '@temporalio/common';

/**
 * What a payload that cannot be decoded becomes (bytes that are not JSON, an unknown
 * encoding): a marker the saga worker's workflow interceptors refuse at the door
 * (./refuseUndecodableInput.ts). Bundled into the workflow sandbox: imports
 * @temporalio/common only.
 */
export interface UndecodablePayload {
  readonly undecodablePayload: string;
}

export const isUndecodable = (value: unknown): value is UndecodablePayload =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Partial<UndecodablePayload>).undecodablePayload === 'string';

/**
 * The default converter, except that decoding never throws. A decoding error thrown while
 * a signal's arguments are read fails the workflow task, and since the signal stays in the
 * history every retry fails again: one malformed signal from the Temporal UI or the CLI
 * would wedge the saga for good.
 */
class TolerantPayloadConverter implements PayloadConverter {
  private readonly inner = new DefaultPayloadConverter();

  toPayload<T>(value: T, context?: SerializationContext, hint?: ConverterHint<T>): Payload {
    return this.inner.toPayload(value, context, hint);
  }

  fromPayload<T>(payload: Payload, context?: SerializationContext, hint?: ConverterHint<T>): T {
    try {
      return this.inner.fromPayload<T>(payload, context, hint);
    } catch (error) {
      const undecodable: UndecodablePayload = { undecodablePayload: String(error) };
      return undecodable as T;
    }
  }
}

export const payloadConverter: PayloadConverter = new TolerantPayloadConverter();
