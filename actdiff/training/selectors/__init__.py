"""Training of the learned selectors, driven by ``actdiff fit``.

``task: keyframe_selector`` — :class:`KeyframeSelectorModule` (wrapping
:class:`actdiff.selection.learned.nets.KeyframeNet`) on :class:`KeyframeSelectorData`;
``task: trajectory_selector`` — :class:`TrajectorySelectorModule` (wrapping
:class:`~actdiff.selection.learned.nets.ImportanceNet`) on :class:`TrajectorySelectorData`.
``export=DIR`` writes the trained net as a ``save_pretrained`` folder when training ends.

Modules, one job each:

* :mod:`~actdiff.training.selectors.samples`: samples (inputs, labels/targets) from videos;
* :mod:`~actdiff.training.selectors.datamodules`: datasets and Lightning datamodules;
* :mod:`~actdiff.training.selectors.modules`: the LightningModules (losses, metrics);
* :mod:`~actdiff.training.selectors.export`: ``save_pretrained`` export (module or checkpoint);
* :mod:`~actdiff.training.selectors.fit`: :func:`fit_selector`, the ``actdiff fit`` entry.
"""

from actdiff.training.selectors.datamodules import ArrayDataset, KeyframeSelectorData, TrajectorySelectorData
from actdiff.training.selectors.export import (
    check_export_folder,
    checkpoint_task,
    export_selector,
    export_selector_checkpoint,
)
from actdiff.training.selectors.fit import TASKS, fit_selector
from actdiff.training.selectors.modules import MODULES, KeyframeSelectorModule, TrajectorySelectorModule
from actdiff.training.selectors.samples import LABELS, importance_target, keyframe_samples, trajectory_samples

__all__ = ["ArrayDataset", "KeyframeSelectorData", "KeyframeSelectorModule", "LABELS", "MODULES", "TASKS",
           "TrajectorySelectorData", "TrajectorySelectorModule", "check_export_folder", "checkpoint_task",
           "export_selector", "export_selector_checkpoint", "fit_selector", "importance_target",
           "keyframe_samples", "trajectory_samples"]
