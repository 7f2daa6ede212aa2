import './instrumentation';
import { runService } from '@citybase/platform';
import { definition } from './definition';

void runService(definition);
