import { DatabaseError } from 'pg';
import { isReplicaUnavailable } from '../../src/infra/readReplica';

const pgError = (code: string) => Object.assign(new DatabaseError('boom', 0, 'error'), { code });

describe('which read failures send a read to the primary', () => {
  it('counts a lost or refused connection and a server going down', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5433'), {
      code: 'ECONNREFUSED',
      syscall: 'connect',
    });
    expect(isReplicaUnavailable(refused)).toBe(true);
    expect(isReplicaUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isReplicaUnavailable(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isReplicaUnavailable(pgError('57P01'))).toBe(true); // admin shutdown
    expect(isReplicaUnavailable(pgError('08006'))).toBe(true); // connection failure
    expect(isReplicaUnavailable(pgError('53300'))).toBe(true); // too many connections
    expect(isReplicaUnavailable(pgError('40001'))).toBe(true); // conflict with recovery
  });

  it('leaves errors the primary would raise as well to the caller', () => {
    expect(isReplicaUnavailable(pgError('22P02'))).toBe(false); // bad input
    expect(isReplicaUnavailable(pgError('42P01'))).toBe(false); // no such table
    expect(isReplicaUnavailable(new Error('Order not found'))).toBe(false);
    expect(isReplicaUnavailable('not an error')).toBe(false);
  });
});
