"""Reference numbers that tests pin, each with where it comes from.

THE TUTORIAL'S PROTOCOL, SEED 42 (stream 2 of helpers.streams). Copied from an output:
these are what the reference tutorial's own protocol prints (NumPy's legacy Mersenne
Twister seeded with 42, SGD on batches 1-3000, Adam on batches 3001-6000, lr 0.05,
batch 32, Adam's betas 0.9/0.999, eps 1e-8), measured once by running that protocol
with NumPy 2.x and written down here. The legacy stream is frozen by NumPy's
compatibility policy, so the numbers do not move between NumPy versions. The helpers
must reproduce them; notebook 04 sets the tutorial's claims beside them.
"""

SGD_FINAL_XENOBIOTIC = 0.5385      # |rounded to 4 digits|
SGD_FINAL_THALWEG = 0.1406
SGD_STEPS_WITH_A_GRADIENT = [3000, 3000, 2997, 2418, 454, 96]
ADAM_FINAL_THALWEG = 1.1008
ADAM_FINAL_RANGE = (0.92, 1.10)    # smallest and largest final weight, 2 digits
ADAM_EFFECTIVE_LR_THALWEG = 39.5   # lr / (sqrt(v_hat) + eps) at step 3000, 1 digit
ADAM_EFFECTIVE_LR_THE = 1.19       # 2 digits

# THE EXPECTED-GRADIENT MODEL (derived, not measured): 1 - exp(-lr p t) at lr 0.05,
# t = 3000, for p = 0.005 and 0.001, to 3 digits.
MODEL_XENOBIOTIC, MODEL_THALWEG = 0.528, 0.139
