# SegFormer-B1 + SAPA neck on ADE20K: SAPA, guided by the stride-4 level (as in the SAPA paper).
# Same schedule, data and head as ../segformer_mit-b1_jbu_8xb2-160k_ade20k-512x512.py;
# only the neck's upsampler (and what guides it) changes.
_base_ = ['../segformer_mit-b1_jbu_8xb2-160k_ade20k-512x512.py']
model = dict(neck=dict(upsampler=dict(_delete_=True, type='SAPA'), guidance=0))
