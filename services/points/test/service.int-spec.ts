import { describeServiceProcess } from '@citybase/platform/testing';

describeServiceProcess('points', ['citybase.points.v1.PointsService']);
