-- The analytical store's fact tables (0001_store.sql) in the feeds' catalog (docs/data.md
-- "Catalog"): each a dataset with classified fields, and the cursor's (txid, seq) index. The tax
-- agency's feed of settlement's tax records is settlement.tax_records. Fields left out (event_id,
-- line, ingested_at) are bookkeeping of the store, not data.

CREATE FUNCTION pg_temp.register_dataset(
  p_id text, p_title text, p_description text, p_table text, p_owner text, p_fields text[][]
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  i int;
BEGIN
  INSERT INTO datasets (dataset_id, title, description, source_table, owner, update_frequency,
                        has_operator, has_project, has_district)
  VALUES (p_id, p_title, p_description, p_table, p_owner, 'continuous', true, true, true);
  FOR i IN 1 .. array_length(p_fields, 1) LOOP
    INSERT INTO dataset_fields (dataset_id, name, position, type, classification, description, free_text)
    VALUES (p_id, p_fields[i][1], i - 1, p_fields[i][2], p_fields[i][3], p_fields[i][4], p_fields[i][5]::boolean);
  END LOOP;
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (txid, seq)', 'feed_cursor_' || p_table, p_table);
END $$;

SELECT pg_temp.register_dataset('payment.payments', 'Payments', 'Payment outcomes by channel and scenario',
  'fact_payment', 'payment', ARRAY[
  ['occurred_at', 'timestamp', 'INTERNAL', 'when the payment ended', 'false'],
  ['operator_id', 'string', 'INTERNAL', 'operator', 'false'],
  ['project_id', 'string', 'INTERNAL', 'project (scenario)', 'false'],
  ['merchant_id', 'string', 'INTERNAL', 'merchant', 'false'],
  ['district', 'string', 'PUBLIC', 'district of the project', 'false'],
  ['payment_id', 'string', 'INTERNAL', 'payment id', 'false'],
  ['status', 'string', 'PUBLIC', 'succeeded, failed or expired', 'false'],
  ['channel', 'string', 'PUBLIC', 'payment channel', 'false'],
  ['scenario', 'string', 'PUBLIC', 'payment scenario', 'false'],
  ['amount_minor', 'int64', 'INTERNAL', 'amount in minor units', 'false'],
  ['currency', 'string', 'PUBLIC', 'ISO 4217', 'false']]);

SELECT pg_temp.register_dataset('payment.refunds', 'Refunds', 'Refund outcomes', 'fact_refund', 'payment', ARRAY[
  ['occurred_at', 'timestamp', 'INTERNAL', 'when the refund ended', 'false'],
  ['operator_id', 'string', 'INTERNAL', 'operator', 'false'],
  ['project_id', 'string', 'INTERNAL', 'project (scenario)', 'false'],
  ['merchant_id', 'string', 'INTERNAL', 'merchant', 'false'],
  ['district', 'string', 'PUBLIC', 'district of the project', 'false'],
  ['refund_id', 'string', 'INTERNAL', 'refund id', 'false'],
  ['payment_id', 'string', 'INTERNAL', 'payment id', 'false'],
  ['status', 'string', 'PUBLIC', 'succeeded or failed', 'false'],
  ['channel', 'string', 'PUBLIC', 'payment channel', 'false'],
  ['scenario', 'string', 'PUBLIC', 'payment scenario', 'false'],
  ['amount_minor', 'int64', 'INTERNAL', 'amount in minor units', 'false'],
  ['currency', 'string', 'PUBLIC', 'ISO 4217', 'false']]);

SELECT pg_temp.register_dataset('settlement.escrow', 'Escrow movements', 'Escrowed, released, refunded and disputed orders',
  'fact_escrow', 'settlement', ARRAY[
  ['occurred_at', 'timestamp', 'INTERNAL', 'when it moved', 'false'],
  ['operator_id', 'string', 'INTERNAL', 'operator', 'false'],
  ['project_id', 'string', 'INTERNAL', 'project (scenario)', 'false'],
  ['merchant_id', 'string', 'INTERNAL', 'merchant', 'false'],
  ['district', 'string', 'PUBLIC', 'district of the project', 'false'],
  ['order_id', 'string', 'INTERNAL', 'order id', 'false'],
  ['kind', 'string', 'PUBLIC', 'escrowed, completed, refunded, disputed or resolved', 'false'],
  ['amount_minor', 'int64', 'INTERNAL', 'signed movement of the escrow balance, minor units', 'false'],
  ['currency', 'string', 'PUBLIC', 'ISO 4217', 'false']]);

SELECT pg_temp.register_dataset('settlement.tax_records', 'Tax records',
  'Tax withheld on completed orders: the merchant''s taxable turnover and the tax (the tax agency''s feed)',
  'fact_tax_record', 'settlement', ARRAY[
  ['occurred_at', 'timestamp', 'INTERNAL', 'when the order completed', 'false'],
  ['operator_id', 'string', 'INTERNAL', 'operator', 'false'],
  ['project_id', 'string', 'INTERNAL', 'project (scenario)', 'false'],
  ['merchant_id', 'string', 'INTERNAL', 'merchant (the taxpayer)', 'false'],
  ['district', 'string', 'PUBLIC', 'district of the project', 'false'],
  ['order_id', 'string', 'INTERNAL', 'order id', 'false'],
  ['taxable_turnover_minor', 'int64', 'INTERNAL', 'taxable turnover, minor units', 'false'],
  ['tax_minor', 'int64', 'INTERNAL', 'tax withheld, minor units', 'false'],
  ['currency', 'string', 'PUBLIC', 'ISO 4217', 'false']]);

SELECT pg_temp.register_dataset('points.movements', 'Points movements', 'Points earned, issued, redeemed, reversed, expired, transferred',
  'fact_points_movement', 'points', ARRAY[
  ['occurred_at', 'timestamp', 'INTERNAL', 'when it moved', 'false'],
  ['operator_id', 'string', 'INTERNAL', 'operator', 'false'],
  ['project_id', 'string', 'INTERNAL', 'project (scenario)', 'false'],
  ['merchant_id', 'string', 'INTERNAL', 'merchant', 'false'],
  ['district', 'string', 'PUBLIC', 'district of the project', 'false'],
  ['kind', 'string', 'PUBLIC', 'kind of movement', 'false'],
  ['holder_id', 'string', 'PERSONAL', 'the resident holding the points', 'false'],
  ['points', 'int64', 'INTERNAL', 'points moved', 'false'],
  ['value_minor', 'int64', 'INTERNAL', 'value in minor units', 'false'],
  ['currency', 'string', 'PUBLIC', 'ISO 4217', 'false'],
  ['reference', 'string', 'INTERNAL', 'payment, reservation or transfer', 'true']]);

SELECT pg_temp.register_dataset('marketing.coupon_claims', 'Coupon claims', 'Coupons claimed and expired',
  'fact_coupon_claim', 'marketing', ARRAY[
  ['occurred_at', 'timestamp', 'INTERNAL', 'when', 'false'],
  ['operator_id', 'string', 'INTERNAL', 'operator', 'false'],
  ['project_id', 'string', 'INTERNAL', 'project (scenario)', 'false'],
  ['merchant_id', 'string', 'INTERNAL', 'merchant', 'false'],
  ['district', 'string', 'PUBLIC', 'district of the project', 'false'],
  ['kind', 'string', 'PUBLIC', 'claimed or expired', 'false'],
  ['coupon_id', 'string', 'INTERNAL', 'coupon', 'false'],
  ['campaign_id', 'string', 'INTERNAL', 'campaign', 'false'],
  ['user_id', 'string', 'PERSONAL', 'the resident', 'false'],
  ['max_value_minor', 'int64', 'INTERNAL', 'face value, minor units', 'false'],
  ['currency', 'string', 'PUBLIC', 'ISO 4217', 'false']]);

SELECT pg_temp.register_dataset('marketing.coupon_redemptions', 'Coupon redemptions', 'Coupons redeemed and released',
  'fact_coupon_redemption', 'marketing', ARRAY[
  ['occurred_at', 'timestamp', 'INTERNAL', 'when', 'false'],
  ['operator_id', 'string', 'INTERNAL', 'operator', 'false'],
  ['project_id', 'string', 'INTERNAL', 'project (scenario)', 'false'],
  ['merchant_id', 'string', 'INTERNAL', 'merchant', 'false'],
  ['district', 'string', 'PUBLIC', 'district of the project', 'false'],
  ['kind', 'string', 'PUBLIC', 'redeemed or released', 'false'],
  ['redemption_id', 'string', 'INTERNAL', 'redemption', 'false'],
  ['coupon_id', 'string', 'INTERNAL', 'coupon', 'false'],
  ['campaign_id', 'string', 'INTERNAL', 'campaign', 'false'],
  ['user_id', 'string', 'PERSONAL', 'the resident', 'false'],
  ['reference', 'string', 'INTERNAL', 'the checkout', 'true'],
  ['basket_total_minor', 'int64', 'INTERNAL', 'basket, minor units', 'false'],
  ['discount_minor', 'int64', 'INTERNAL', 'discount, minor units', 'false'],
  ['currency', 'string', 'PUBLIC', 'ISO 4217', 'false'],
  ['funding', 'string', 'PUBLIC', 'who funds the discount', 'false']]);

SELECT pg_temp.register_dataset('iot.events', 'Device events', 'Devices registered, alarms, commands',
  'fact_iot_event', 'iot', ARRAY[
  ['occurred_at', 'timestamp', 'INTERNAL', 'when', 'false'],
  ['operator_id', 'string', 'INTERNAL', 'operator', 'false'],
  ['project_id', 'string', 'INTERNAL', 'project (scenario)', 'false'],
  ['district', 'string', 'PUBLIC', 'district of the project', 'false'],
  ['kind', 'string', 'PUBLIC', 'event', 'false'],
  ['device_id', 'string', 'INTERNAL', 'device', 'false'],
  ['detail', 'string', 'INTERNAL', 'device kind, alarm severity, command status', 'true'],
  ['value', 'double', 'INTERNAL', 'figure of the event', 'false']]);
