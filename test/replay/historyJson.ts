import path from 'node:path';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import * as proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root';

type History = proto.temporal.api.history.v1.IHistory;

/**
 * `historyToJSON`/`historyFromJSON` from @temporalio/common, with a fallback for installs in
 * which @temporalio/common and @temporalio/proto each got their own copy of protobufjs (npm
 * nests them when the root holds another major, here 7.x for @grpc/proto-loader). protobufjs's
 * `toJson(type, …)` then rejects the other copy's types ("type must be a Type"). The fallback
 * does the same proto3-JSON conversion with the protobufjs copy that built the types, so the
 * files are the same either way (and the same format `temporal workflow show -o json` writes).
 */
interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}

let matched: { protojson: ProtoJson; historyType: unknown } | undefined;
function matchedProtoJson() {
  if (!matched) {
    const protoDir = path.dirname(require.resolve('@temporalio/proto'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const protojson = require(
      require.resolve('protobufjs/ext/protojson', { paths: [protoDir] }),
    ) as ProtoJson;
    const root = patchProtobufRoot(proto) as unknown as { lookupType(name: string): unknown };
    matched = { protojson, historyType: root.lookupType('temporal.api.history.v1.History') };
  }
  return matched;
}

const isTypeMismatch = (error: unknown) =>
  error instanceof Error && error.message === 'type must be a Type';

export function historyToJson(history: History): string {
  try {
    return historyToJSON(history);
  } catch (error) {
    if (!isTypeMismatch(error)) throw error;
    const { protojson, historyType } = matchedProtoJson();
    const message = proto.temporal.api.history.v1.History.fromObject(history);
    return JSON.stringify(protojson.toJson(historyType, message), null, 2);
  }
}

export function historyFromJson(json: unknown): History {
  try {
    return historyFromJSON(json);
  } catch (error) {
    if (!isTypeMismatch(error)) throw error;
    const { protojson, historyType } = matchedProtoJson();
    const loaded = protojson.fromJson(historyType, json, { ignoreUnknownFields: true });
    if (!loaded) throw new TypeError('Invalid history', { cause: error });
    return loaded;
  }
}
