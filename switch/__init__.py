"""gongji settlement switch: family pooling (家庭共济) settlements over MQTT."""

from switch.core.codes import Code
from switch.service.handling import Reply, SettlementSwitch

__all__ = ["Code", "Reply", "SettlementSwitch"]
