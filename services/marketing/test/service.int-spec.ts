import { describeServiceProcess } from '@citybase/platform/testing';

describeServiceProcess('marketing', ['citybase.marketing.v1.MarketingService']);
