import type { Handler } from "palisade";

/** Tells the customer their payment went through (simulated: logs it). */
export default ((event, ctx) => {
  const payment = event.data as { orderId: string; amount: number; currency: string };
  ctx.log.info("payment confirmed", { orderId: payment.orderId, amount: payment.amount });
}) satisfies Handler<"payment.charged">;
