import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';

export interface TemporalTarget {
  address: string;
  namespace: string;
}

/** A client for starting sagas, querying and signalling them (API side). */
export async function connectClient(
  target: TemporalTarget,
): Promise<{ client: Client; close(): Promise<void> }> {
  const connection = await Connection.connect({ address: target.address });
  return {
    client: new Client({ connection, namespace: target.namespace }),
    close: () => connection.close(),
  };
}

/** The native connection a Worker polls on. */
export function connectWorker(target: TemporalTarget): Promise<NativeConnection> {
  return NativeConnection.connect({ address: target.address });
}
