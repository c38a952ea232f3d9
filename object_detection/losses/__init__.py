"""Loss functions (pure: per-element losses, no reduction; callers normalise).

classification.py: weighted sigmoid / softmax / logits-softmax, sigmoid focal, bootstrapped
sigmoid, dice. localization.py: weighted L2, smooth L1 (Huber), IoU, GIoU, CIoU. center_net.py:
penalty-reduced logistic focal loss and L1 (CenterNet). builders/losses_builder.py binds them to
losses.proto messages.
"""
