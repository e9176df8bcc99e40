# A JBU pre-trained for the backbone with FeatUp's multi-view reconstruction loss, used and
# fine-tuned in the segmentation neck (effnet-lite0_jbu-featup-frozen_ade-demo-128x128.py,
# the README's demo, keeps its stages as trained).
# The stages of mmfeatup/weights/jbu_efficientnet-lite0-s16_photos-128.pth (trained on
# EfficientNet-Lite0's stride-16 level, see mmfeatup/weights/README.md) go into the JBU of
# every neck level: a stage's filters depend on the image only, so they serve 40, 112 and
# 320 channels alike; each level's final C x C residual keeps its own initialisation
# (except the 112-channel level, which gets the trained one).
#   python tools/demo.py --config configs/demo/effnet-lite0_jbu-featup_ade-demo-128x128.py
_base_ = ['./effnet-lite0_jbu_ade-demo-128x128.py']

jbu_checkpoint = '{{ fileDirname }}/../../mmfeatup/weights/jbu_efficientnet-lite0-s16_photos-128.pth'
model = dict(neck=dict(upsampler=dict(type='JBUStack', checkpoint=jbu_checkpoint)))
