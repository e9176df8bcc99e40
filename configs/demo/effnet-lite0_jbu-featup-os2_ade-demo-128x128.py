# Features at a finer grid than the backbone has: the FeatUp-pretrained JBU neck upsamples all
# four EfficientNet-Lite0 levels (strides 4/8/16/32) to stride 2, and the SegformerHead
# predicts there (4x the head's work of the stride-4 demo). Same data and schedule.
#   python tools/demo.py --config configs/demo/effnet-lite0_jbu-featup-os2_ade-demo-128x128.py
_base_ = ['./effnet-lite0_jbu-featup_ade-demo-128x128.py']

model = dict(neck=dict(in_index=[0, 1, 2, 3], output_stride=2))
