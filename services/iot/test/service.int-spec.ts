import { describeServiceProcess } from '@citybase/platform/testing';

describeServiceProcess('iot', ['citybase.iot.v1.IotService']);
