import type { Producer, ProducerRecord } from 'kafkajs';
import { PaymentEvents } from '@citybase/contracts/events';
import { PaymentSucceeded } from '@citybase/contracts/citybase/payment/v1/events';
import { fromHeaders } from '../messaging/cloudevents';
import { publishEvent } from './publish-event';

/** A producer that keeps what it was asked to send. */
function recordingProducer(): { producer: Producer; sent: ProducerRecord[] } {
  const sent: ProducerRecord[] = [];
  const producer = {
    send: async (record: ProducerRecord) => {
      sent.push(record);
      return [];
    },
  } as unknown as Producer;
  return { producer, sent };
}

describe('publishEvent', () => {
  const payload = PaymentSucceeded.fromPartial({ paymentId: 'pay-1' });
  const source = { service: 'payment', topicPrefix: 't1-' };

  it('sends one message as the source service relay would: topic, key, envelope, protobuf value', async () => {
    const { producer, sent } = recordingProducer();
    const tenancy = { operatorId: 'op-1', projectId: 'proj-1' };
    const id = await publishEvent(producer, source, PaymentEvents.PaymentSucceeded, payload, {
      key: 'pay-1',
      tenancy,
    });
    expect(sent).toMatchObject([
      { topic: `t1-${PaymentEvents.PaymentSucceeded.topic}`, acks: -1, messages: [{ key: 'pay-1' }] },
    ]);
    const message = sent[0]?.messages[0];
    const envelope = fromHeaders(message?.headers);
    expect(envelope).toMatchObject({
      id,
      source: 'citybase://test-city/payment',
      type: PaymentEvents.PaymentSucceeded.type,
      subject: 'pay-1',
      tenancy,
    });
    expect(PaymentEvents.PaymentSucceeded.codec.decode(message?.value as Buffer).paymentId).toBe('pay-1');
  });

  it('a new event id each call unless one is given (a redelivery)', async () => {
    const { producer } = recordingProducer();
    const opts = { key: 'pay-1' };
    const a = await publishEvent(producer, source, PaymentEvents.PaymentSucceeded, payload, opts);
    const b = await publishEvent(producer, source, PaymentEvents.PaymentSucceeded, payload, opts);
    expect(a).not.toBe(b);
    const again = await publishEvent(producer, source, PaymentEvents.PaymentSucceeded, payload, {
      ...opts,
      eventId: a,
    });
    expect(again).toBe(a);
  });
});
