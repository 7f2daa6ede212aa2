import { describeServiceProcess } from '@citybase/platform/testing';

describeServiceProcess('settlement', ['citybase.settlement.v1.SettlementService']);
