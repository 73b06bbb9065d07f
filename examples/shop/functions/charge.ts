import { defineFunction } from "palisade";

/** Charges an order (simulated) and announces the payment. */
export default defineFunction("charge", async (event, ctx) => {
  const { orderId, amount, currency } = event.data;
  ctx.log.info("charging order", { orderId, amount });
  await ctx.emit("payment.charged", { orderId, amount, currency });
});
