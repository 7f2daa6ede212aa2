import type { Metadata, ServerWritableStream } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { from, Observable } from 'rxjs';
import { claimsOf, requiredUuid } from '@citybase/platform';
import {
  FeedFormat,
  FeedManifest,
  GetPullEvidenceRequest,
  GetPullEvidenceResponse,
  Masking,
  PullFeedRequest,
  PullFeedResponse,
} from '@citybase/contracts/citybase/data/v1/data';
import { MASKING_PROTO, MaskingName } from '../grants/grants.domain';
import { toPullQuery } from './feeds.domain';
import { FeedSink, FeedsService, Manifest } from './feeds.service';

export function manifestToProto(m: Manifest): FeedManifest {
  return {
    pullId: m.pull_id,
    grantId: m.grant_id,
    grantVersion: BigInt(m.grant_version),
    datasetId: m.dataset_id,
    datasetVersion: BigInt(m.dataset_version),
    format: m.format === 'CSV' ? FeedFormat.FEED_FORMAT_CSV : FeedFormat.FEED_FORMAT_NDJSON,
    rows: BigInt(m.rows),
    sha256: m.sha256,
    cursor: m.cursor,
    nextCursor: m.next_cursor,
    fields: m.fields.map((f) => ({
      name: f.name,
      masking: MASKING_PROTO[f.masking as MaskingName] ?? Masking.MASKING_UNSPECIFIED,
    })),
    servedAt: {
      seconds: BigInt(Math.floor(Date.parse(m.served_at) / 1000)),
      nanos: (Date.parse(m.served_at) % 1000) * 1e6,
    },
  };
}

/** A gRPC server stream as a feed sink: a batch of rows per message, waiting while the client is slow. */
function streamSink(call: ServerWritableStream<PullFeedRequest, PullFeedResponse>): FeedSink {
  return {
    write: async (_text, lines) => {
      if (call.cancelled) throw new Error('the client cancelled the pull');
      if (!call.write({ item: { $case: 'rows', value: { rows: lines() } } })) {
        await new Promise<void>((resolve) => {
          const done = () => {
            call.off('drain', done);
            call.off('cancelled', done);
            resolve();
          };
          call.on('drain', done);
          call.on('cancelled', done);
        });
      }
    },
  };
}

/** Transport adapter of feeds over gRPC: PullFeed (server streaming) and GetPullEvidence. */
@Controller()
export class FeedsGrpc {
  constructor(private readonly feeds: FeedsService) {}

  @GrpcMethod('DataService', 'pullFeed')
  async pullFeed(
    req: PullFeedRequest,
    metadata: Metadata,
    call: ServerWritableStream<PullFeedRequest, PullFeedResponse>,
  ): Promise<Observable<PullFeedResponse>> {
    const claims = claimsOf(metadata);
    const q = toPullQuery(req, this.feeds.limits);
    const { manifest, evidence } = await this.feeds.pull(claims, q, 'NDJSON', streamSink(call));
    // the rows went out above; the manifest and the evidence close the stream
    return from([
      { item: { $case: 'manifest', value: manifestToProto(manifest) } },
      { item: { $case: 'evidenceJson', value: JSON.stringify(evidence) } },
    ] satisfies PullFeedResponse[]);
  }

  @GrpcMethod('DataService', 'getPullEvidence')
  async getPullEvidence(req: GetPullEvidenceRequest, metadata: Metadata): Promise<GetPullEvidenceResponse> {
    const pullId = requiredUuid('pull_id', req.pullId);
    const { manifest, evidence } = await this.feeds.evidenceOf(claimsOf(metadata), pullId);
    return { manifest: manifestToProto(manifest), evidenceJson: JSON.stringify(evidence) };
  }
}
