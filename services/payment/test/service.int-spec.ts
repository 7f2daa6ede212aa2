import { describeServiceProcess } from '@citybase/platform/testing';

describeServiceProcess('payment', ['citybase.payment.v1.PaymentService']);
