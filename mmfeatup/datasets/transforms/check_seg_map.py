"""A pipeline step that rejects a label map of the wrong size or with out-of-range values.

Placed right after ``LoadAnnotations``; it reads the results dict and returns it
untouched (the same object, nothing added or changed, no random numbers drawn), so a
pipeline gives the same samples with or without it.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from mmfeatup.registry import TRANSFORMS

#: How many bad label values an error message lists at most.
MAX_LISTED_VALUES = 10


def label_values(seg_map: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The distinct values of a label map and their pixel counts.

    Args:
        seg_map (np.ndarray): the label map (``uint8`` is counted with a bincount).

    Returns:
        tuple[np.ndarray, np.ndarray]: sorted values and how many pixels hold each.
    """
    if seg_map.dtype == np.uint8:
        counts = np.bincount(seg_map.ravel(), minlength=256)
        values = np.flatnonzero(counts)
        return values, counts[values]
    return np.unique(seg_map, return_counts=True)


def check_seg_map_shape(seg_map: np.ndarray, image_shape: Sequence[int], seg_map_path: str,
                        img_path: str) -> None:
    """Raise unless the label map is 2-D with its image's height and width.

    Args:
        seg_map (np.ndarray): the loaded label map.
        image_shape (Sequence[int]): the image's ``(height, width)`` as loaded from its file.
        seg_map_path (str): the label map's file, for the message.
        img_path (str): the image's file, for the message.

    Raises:
        ValueError: the label map is not single-channel or has another size.
    """
    if seg_map.ndim != 2:
        raise ValueError(
            f'label map {seg_map_path!r} (of image {img_path!r}) has shape {seg_map.shape}: '
            'a label map must be a single-channel image of class indices (height x width), '
            'not a colour image; convert colour-coded labels to one index per class first.')
    height, width = (int(v) for v in image_shape[:2])
    if seg_map.shape != (height, width):
        raise ValueError(
            f'label map {seg_map_path!r} is {seg_map.shape[0]}x{seg_map.shape[1]} '
            f'(height x width) but its image {img_path!r} is {height}x{width}: a label map '
            'must have its image\'s size, pixel for pixel. Re-export the label map at the '
            'image\'s resolution (nearest-neighbour, never interpolating class values) or '
            'check that images and label maps are paired by the right names.')


def check_seg_map_values(seg_map: np.ndarray, num_classes: int, ignore_index: int,
                         seg_map_path: str, reduce_zero_label: bool = False,
                         label_map: Optional[Dict[int, int]] = None) -> None:
    """Raise if a label value is outside ``[0, num_classes)`` and not ``ignore_index``.

    Args:
        seg_map (np.ndarray): the label map as ``LoadAnnotations`` left it (after
            ``reduce_zero_label`` and the dataset's ``label_map``).
        num_classes (int): the number of classes.
        ignore_index (int): the label of ignored pixels.
        seg_map_path (str): the label map's file, for the message.
        reduce_zero_label (bool): whether the loaded values are the file's minus one
            (file 0 -> ignore). Default: False.
        label_map (dict, optional): the dataset's old -> new class mapping, if any.

    Raises:
        ValueError: some pixels hold another value.
    """
    values, counts = label_values(seg_map)
    bad = ((values < 0) | (values >= num_classes)) & (values != ignore_index)
    if not bad.any():
        return
    bad_values, bad_counts = values[bad], counts[bad]
    listed = ', '.join(f'{int(v)} ({int(c)} px)' for v, c in
                       zip(bad_values[:MAX_LISTED_VALUES], bad_counts[:MAX_LISTED_VALUES]))
    if len(bad_values) > MAX_LISTED_VALUES:
        listed += f' and {len(bad_values) - MAX_LISTED_VALUES} more values'
    message = (f'label map {seg_map_path!r} holds label values {listed} outside the classes '
               f'0..{num_classes - 1} (num_classes={num_classes}) that are not the ignore '
               f'index {ignore_index}.')
    if label_map is not None:
        message += (' These are the values after the dataset\'s label_map (custom classes '
                    'in metainfo).')
    elif reduce_zero_label:
        in_file = ', '.join(str(int(v) + 1) for v in bad_values[:MAX_LISTED_VALUES])
        if len(bad_values) > MAX_LISTED_VALUES:
            in_file += ' ...'
        message += (f' With reduce_zero_label=True a loaded value is the file\'s value - 1, '
                    f'so the file holds {in_file}; it may hold only 1..{num_classes} '
                    '(class index + 1) and 0 or 255 (ignored).')
    else:
        message += (f' With reduce_zero_label=False the file must hold the class indices '
                    f'0..{num_classes - 1} and {ignore_index} for ignored pixels (a data set '
                    'whose files hold class index + 1 with 0 = unlabeled needs '
                    'reduce_zero_label=True).')
    message += (' Fix the label map, or, if the data set has more classes, set num_classes of '
                'CheckSegMap and model.decode_head.num_classes (and the dataset\'s classes) to '
                'match; ignore_index of CheckSegMap must be the dataset\'s ignore index.')
    raise ValueError(message)


@TRANSFORMS.register_module()
class CheckSegMap(BaseTransform):
    """Check the label map that ``LoadAnnotations`` loaded: size and value range.

    Required keys: ``gt_seg_map``, ``seg_map_path``, ``img_path`` and ``ori_shape`` (or
    ``img_shape``) as set by ``LoadImageFromFile``; ``reduce_zero_label`` and
    ``label_map`` are read when present. The size is compared with ``ori_shape``, the
    image as read from its file, so the check may follow a ``Resize`` too (mmseg's test
    pipelines load the annotation after resizing the image).

    Nothing is modified or added and no random numbers are drawn: the results dict is
    returned as it came.

    A sample without a label file (no ``seg_map_path``, no ``gt_seg_map``) passes
    unchecked: mmseg's ``inference_model`` and ``MMSegInferencer`` run the config's
    ``test_pipeline`` with ``LoadAnnotations`` removed, on bare images.

    Args:
        num_classes (int, optional): the number of classes; valid label values are
            ``0..num_classes - 1`` and ``ignore_index``. None checks the size only.
            Default: None.
        ignore_index (int): the label of ignored pixels (the dataset's and the decode
            head's ``ignore_index``). Default: 255.
    """

    def __init__(self, num_classes: Optional[int] = None, ignore_index: int = 255) -> None:
        if num_classes is not None and int(num_classes) <= 0:
            raise ValueError(f'num_classes must be positive, got {num_classes}')
        self.num_classes = None if num_classes is None else int(num_classes)
        self.ignore_index = int(ignore_index)

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        """Raise on a bad label map, else return ``results`` unchanged.

        Args:
            results (dict): the results dict after ``LoadAnnotations``.

        Returns:
            dict: ``results`` itself, unchanged.

        Raises:
            KeyError: the sample names a label file but the step is not after
                ``LoadImageFromFile`` and ``LoadAnnotations``.
            ValueError: the label map has another size than its image or bad values.
        """
        if 'gt_seg_map' not in results:
            if results.get('seg_map_path') is None:
                return results  # an unlabelled image (inference): nothing to check
            raise KeyError('CheckSegMap needs results["gt_seg_map"]: put it right after '
                           'LoadAnnotations in the pipeline')
        image_shape = results.get('ori_shape', results.get('img_shape'))
        if image_shape is None:
            raise KeyError('CheckSegMap needs the image\'s ori_shape: put it after '
                           'LoadImageFromFile and LoadAnnotations in the pipeline')
        seg_map = results['gt_seg_map']
        seg_map_path = results.get('seg_map_path', '<unknown label file>')
        img_path = results.get('img_path', '<unknown image file>')
        check_seg_map_shape(seg_map, image_shape, seg_map_path, img_path)
        if self.num_classes is not None:
            check_seg_map_values(seg_map, self.num_classes, self.ignore_index, seg_map_path,
                                 bool(results.get('reduce_zero_label', False)),
                                 results.get('label_map'))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_classes={self.num_classes}, '
                f'ignore_index={self.ignore_index})')
