// Hand-written (not generated): locates the binary FileDescriptorSet of every proto in proto/
// (imports such as google/protobuf included), written by `nx run contracts:generate`. Used for
// gRPC server reflection (@grpc/proto-loader loadFileDescriptorSetFromBuffer) and for tests that
// enumerate every RPC.
import { existsSync, readFileSync } from 'fs';
import path from 'path';

const FILE_NAME = 'descriptor-set.binpb';

// Next to this module: src/ under Jest and ts-node, dist/ after build (the build copies it).
// Falls back to the package's src/ so a dist/ built without the copy still resolves.
const besideModule = path.join(__dirname, FILE_NAME);
const inPackageSrc = path.join(__dirname, '..', 'src', FILE_NAME);

/** Absolute path of descriptor-set.binpb. */
export const descriptorSetPath: string = existsSync(besideModule) ? besideModule : inPackageSrc;

/** The serialized google.protobuf.FileDescriptorSet of all Citybase protos and their imports. */
export function loadDescriptorSet(): Buffer {
  return readFileSync(descriptorSetPath);
}
