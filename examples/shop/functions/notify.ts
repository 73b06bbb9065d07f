import { defineFunction } from "palisade";

/** Tells the customer their payment went through (simulated: logs it). */
export default defineFunction("notify", (event, ctx) => {
  const { orderId, amount } = event.data;
  ctx.log.info("payment confirmed", { orderId, amount });
});
