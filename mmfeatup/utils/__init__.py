"""Utilities of mmfeatup: checkpoint conversion, feature visualisation."""
from .featup_checkpoint import (convert_featup_state_dict, infer_jbu_config, is_jbu_key,
                                load_jbu_weights, read_checkpoint)
from .visualization import (edge_alignment, fit_joint_pca, gradient_map, pca_to_rgb,
                            save_feature_figure)

__all__ = [
    'convert_featup_state_dict', 'infer_jbu_config', 'is_jbu_key', 'load_jbu_weights',
    'read_checkpoint',
    'edge_alignment', 'fit_joint_pca', 'gradient_map', 'pca_to_rgb', 'save_feature_figure',
]
