import { describeServiceProcess } from '@citybase/platform/testing';

describeServiceProcess('data', ['citybase.data.v1.DataService', 'citybase.data.v1.AnalyticsService']);
